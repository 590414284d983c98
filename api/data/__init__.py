"""The service's data as a whole: schema migrations, retention, export and import.

`python -m api.data --help` lists the commands an operator runs against `DATABASE_URL`.
"""
