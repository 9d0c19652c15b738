"""Use cases. Each runs inside one unit of work handed to it by `write_path.run_write`
(or opened by a read helper); services never commit on their own."""
