"""From embeddings to identities: classifier, releases, gallery search, open-set decision."""
