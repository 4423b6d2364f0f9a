"""Celery workers: thin named tasks that call the domain (outbox delivery, clock sweeps).

`workers.celery_app` builds the Celery application from the Flask configuration
(`HOTLINE_REDIS_URL`); `workers.kick` pokes the workers after a commit; `hotline worker` runs
`workers.celery_app.worker_main`. Without Redis, `web.embedded` runs the same rounds in-process.
"""
