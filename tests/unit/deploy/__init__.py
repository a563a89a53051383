"""Tests of deploy/: dashboard, alert rules (promtool), Kubernetes manifests, metrics module."""
