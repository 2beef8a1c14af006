"""Retraining webhooks: ask an orchestrator to retrain a model that degraded.

A stage (docs/architecture.md): pure logic and one small HTTP sender, no Redis. The policies
decide when a model's retraining is due, the scheduler keeps requests in the outbox and decides
when to try again; this package builds and sends each attempt:

- ``targets``: the HTTP request of one retraining event for one target (a plain webhook, GitHub
  ``repository_dispatch``, Airflow's create-DAG-run, a Kubeflow Pipelines run), signed with
  Standard Webhooks headers when the target has a ``whsec_`` secret;
- ``send``: one attempt at an allow-listed host, its outcome classified (delivered, retry,
  rejected), and the backoff before the next.

The event id is the same for every attempt of one incident and every receiver dedups on it
(``webhook-id``, Airflow's ``dag_run_id``, ``client_payload.event_id``, ``Idempotency-Key``),
so at-least-once delivery has one effect.
"""
