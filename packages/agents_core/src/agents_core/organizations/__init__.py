"""Organizations: the tenants everything else belongs to."""
