"""Operating a database: monitoring, backups and the work that keeps them going."""
