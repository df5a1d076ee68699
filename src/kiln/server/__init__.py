"""The Kiln server: REST API, supervisor and (later) runtime router and console, in one process."""
