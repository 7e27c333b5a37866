"""The hub: an aiohttp app for the agent console, the insight dashboard and Rapport's API."""
