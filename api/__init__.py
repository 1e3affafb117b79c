"""The HTTP edge: app factory, one router per resource, schemas, auth, error table."""
