"""Alert rules (deploy/prometheus), Alertmanager routing (deploy/alertmanager), delivery end to end."""
