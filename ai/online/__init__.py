"""Online classification: `OnlineModel` (model), its settings (config), wire formats (providers),
request limits (rate_limit) and the API key in the OS keyring (secrets)."""
