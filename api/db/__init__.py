"""The data layer: SQLAlchemy Core tables and the queries the API runs on them.

Core (not the ORM) because every query here is a plain insert/select over a few tables
and the same statements must run on SQLite (embedded default) and MariaDB (production);
`db-gen/face_recognition_db.sql` is generated from `schema.metadata` and a test keeps
the two identical.
"""
