"""Notifications in the style of argocd-notifications: triggers (when to notify), templates
(what to say), subscriptions (to whom) and delivery (how, with threads and rate limits).

The trigger side is pure: ``bot.notify.expr`` evaluates argocd-notifications' ``when`` and
``oncePer`` expressions safely over an Argo-shaped Application dict, and
``bot.notify.triggers`` decides which conditions fire, keeping its dedup state as plain data
that the caller persists.
"""
