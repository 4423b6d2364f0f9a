"""Celery workers: thin named tasks that call the domain (outbox delivery, clock sweeps).

`workers.celery_app` builds the Celery application around the Flask app it is given (its
configuration and wired parts; `HOTLINE_REDIS_URL`); `workers.rounds` holds the rounds the tasks
run; `workers.kick` pokes the workers after a commit. `hotline worker` (or `celery -A
web.celery_worker worker`) builds the app and runs `workers.celery_app.worker_main`; without
Redis, the web process's embedded runner runs the same rounds. Nothing here imports `web`.
"""
