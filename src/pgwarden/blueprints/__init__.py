"""Applications of the seed plans, built on pgwarden: schema, policies, services, HTTP API."""
