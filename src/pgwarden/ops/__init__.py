"""Operations on a running database: monitoring and advice, backups."""
