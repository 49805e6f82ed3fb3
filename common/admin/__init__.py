"""Running the service: user management, analytics and the audit log of admin writes."""
