"""The parts of the ingestion benchmark (`bench/ingest.py`), one purpose per module.

* `settings`     -- constants: project paths, tenant, currency, host.
* `workload`     -- the generated paid orders every party sends.
* `database`     -- the bench database: URLs, create/drop, tenant set-up, small queries.
* `server`       -- `patron serve` as a subprocess.
* `harness`      -- worker processes started together; the measured window's timing.
* `measure`      -- per-process counters of the measured window, merged into rates.
* `clients`      -- the HTTP/1.1 keep-alive clients of the load generator.
* `load`         -- the load generator driving Patron.
* `baseline_sql` -- the statements of the hand-written baseline transaction.
* `baseline`     -- the hand-written baseline on psycopg.
* `pgbench`      -- the same baseline transaction under pgbench.
* `cpu`          -- CPU accounting from /proc.
* `csv_import`   -- a generated CSV timed through `patron import`.
* `profiling`    -- the in-process profile (`--profile`).
* `pyspy`        -- sampling the server workers with py-spy (`--py-spy`).
* `conditions`   -- the conditions a run is reported under.
* `summary`      -- the comparison figures and the final JSON line.
* `report`       -- everything printed.

Nothing here is imported by Patron or its tests; the modules import each other absolutely
(`ingestlib.x`), with `bench/` on `sys.path`.
"""
