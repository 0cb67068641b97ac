"""Database and connection-pool health: checks, the pool load driver and exporters.

``run_health(settings, options)`` (``runner.py``) runs the checks (``checks.py``) over one
``Session`` (``session.py``), ``run_pool_load`` drives the application's QueuePool (``pool.py``);
``exporters.py`` turns results into JSON, a Nagios line and a Prometheus textfile. Statuses follow Nagios: OK 0, WARNING 1, CRITICAL 2, UNKNOWN 3.
"""

from dbadmin.health.model import CheckResult, HealthReport, Status

__all__ = ["CheckResult", "HealthReport", "Status"]
