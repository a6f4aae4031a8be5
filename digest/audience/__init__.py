"""The list's room: who the readers are, how they are addressed, and how they leave.

For now it holds the unsubscribe token alone (``tokens``); the subscribers file,
addresses and personalization move here in the layout refactor (design.md, "Layout").
"""
