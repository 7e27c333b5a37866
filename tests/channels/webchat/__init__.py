"""Web chat: store and outbox, the Rasa channel, the hub pages, the widget in Chromium."""
