-- The schema of today's main (v1, before Alembic) as it made MariaDB: `create_all`.
-- A fixture of the upgrade tests: never edit.
CREATE TABLE IF NOT EXISTS api_keys (
	key_id VARCHAR(16) NOT NULL,
	name VARCHAR(128) NOT NULL,
	scope VARCHAR(16) NOT NULL,
	camera_id VARCHAR(128),
	secret_sha256 VARCHAR(64) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	revoked_at DATETIME(6),
	PRIMARY KEY (key_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS gallery_changes (
	version BIGINT NOT NULL,
	face_id INTEGER NOT NULL,
	person_id VARCHAR(128) NOT NULL,
	kind VARCHAR(8) NOT NULL,
	PRIMARY KEY (version, face_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS gallery_state (
	id INTEGER NOT NULL,
	version BIGINT NOT NULL,
	PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS people (
	person_id VARCHAR(128) NOT NULL,
	name VARCHAR(255) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (person_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS recognition_events (
	event_id BIGINT NOT NULL AUTO_INCREMENT,
	captured_at DATETIME(6) NOT NULL,
	received_at DATETIME(6) NOT NULL,
	camera_id VARCHAR(128) NOT NULL,
	location VARCHAR(255),
	person_id VARCHAR(128),
	confidence FLOAT,
	similarity FLOAT,
	box_left INTEGER NOT NULL,
	box_top INTEGER NOT NULL,
	box_right INTEGER NOT NULL,
	box_bottom INTEGER NOT NULL,
	model_version VARCHAR(64),
	PRIMARY KEY (event_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX IF NOT EXISTS ix_events_camera_time ON recognition_events (camera_id, captured_at);
CREATE INDEX IF NOT EXISTS ix_events_person_time ON recognition_events (person_id, captured_at);
CREATE INDEX IF NOT EXISTS ix_events_time ON recognition_events (captured_at);
CREATE TABLE IF NOT EXISTS training_jobs (
	job_id VARCHAR(36) NOT NULL,
	mode VARCHAR(16) NOT NULL,
	status VARCHAR(16) NOT NULL,
	created_at DATETIME(6) NOT NULL,
	started_at DATETIME(6),
	finished_at DATETIME(6),
	lease_owner VARCHAR(128),
	lease_expires_at DATETIME(6),
	attempts INTEGER NOT NULL,
	progress FLOAT NOT NULL,
	message TEXT,
	release_version VARCHAR(64),
	people_count INTEGER,
	faces_count INTEGER,
	running_slot INTEGER,
	PRIMARY KEY (job_id),
	CONSTRAINT uq_training_jobs_running_slot UNIQUE (running_slot)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX IF NOT EXISTS ix_training_jobs_status ON training_jobs (status);
CREATE TABLE IF NOT EXISTS face_images (
	face_id INTEGER NOT NULL AUTO_INCREMENT,
	person_id VARCHAR(128) NOT NULL,
	image LONGBLOB NOT NULL,
	image_format VARCHAR(8) NOT NULL,
	image_sha256 VARCHAR(64) NOT NULL,
	width INTEGER NOT NULL,
	height INTEGER NOT NULL,
	box_left FLOAT NOT NULL,
	box_top FLOAT NOT NULL,
	box_right FLOAT NOT NULL,
	box_bottom FLOAT NOT NULL,
	detection_score FLOAT NOT NULL,
	created_at DATETIME(6) NOT NULL,
	PRIMARY KEY (face_id),
	FOREIGN KEY(person_id) REFERENCES people (person_id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX IF NOT EXISTS ix_face_images_person_id ON face_images (person_id);
CREATE TABLE IF NOT EXISTS face_embeddings (
	face_id INTEGER NOT NULL,
	embedder VARCHAR(32) NOT NULL,
	dim INTEGER NOT NULL,
	vector BLOB NOT NULL,
	PRIMARY KEY (face_id, embedder),
	FOREIGN KEY(face_id) REFERENCES face_images (face_id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
