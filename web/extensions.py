"""Extensions, created unbound and `init_app`-ed by the app factory."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

import dispatch.core.models  # noqa: F401  (registers the tables on the shared metadata)
import grid.models  # noqa: F401
from dispatch.core.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
