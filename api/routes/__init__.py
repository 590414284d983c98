"""HTTP resources, one module per area of the contract (see ../shared/docs/design.md)."""
