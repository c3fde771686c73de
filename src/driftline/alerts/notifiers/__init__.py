"""Notifiers: webhook, Slack, PagerDuty, email, Alertmanager, log; actions; the dispatcher."""
