"""Extensions, created unbound and `init_app`-ed by the app factory."""

from __future__ import annotations

import logging

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import SQLAlchemyError

import dispatch.core.models  # noqa: F401  (registers the tables on the shared metadata)
import grid.models  # noqa: F401
from dispatch.core.db import Base

log = logging.getLogger("hotline.web")


class HotlineSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy whose end-of-request clean-up survives a database that went away."""

    def _teardown_session(self, exc: BaseException | None) -> None:
        """Remove the request's session. Its ROLLBACK fails when the database went away after
        the answer was made (a PostgreSQL restart): the answer stands — the error would reach
        the server and replace it with a 500 page — and the connection is dropped instead."""
        try:
            self.session.remove()
        except SQLAlchemyError as error:
            log.warning("session removed without its rollback (database unavailable): %s",
                        str(getattr(error, "orig", None) or error).strip())
            try:
                self.session.registry().invalidate()  # close without a ROLLBACK
            except SQLAlchemyError:
                pass
            self.session.registry.clear()


db = HotlineSQLAlchemy(model_class=Base)
migrate = Migrate()
