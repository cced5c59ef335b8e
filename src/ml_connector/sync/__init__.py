"""Use cases as job handlers: sync vendors, bills and expenses; reconcile; backfill."""
