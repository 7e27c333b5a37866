"""The hub: one aiohttp app for the status page, the agent console and the web chat widget."""
