"""Web chat: store and sender, the Rasa channel, the hub pages, the widget in Chromium."""
