"""Unknown people: sightings nobody was recognised in, grouped by face (issue 14)."""
