/* /admin/repeat-rules: the repeat rule's distance and windows, read and replaced through
 * /api/v1/admin/repeat-rules (checked and recorded by the server; a refusal is shown at the
 * field it names and nothing is saved). */
import { api } from "./lib/api.js";
import { onSubmit, showError } from "./lib/admin.js";
import { numberSettings } from "./lib/number-settings.js";

numberSettings(document.getElementById("admin-repeat-rules"), "/api/v1/admin/repeat-rules",
  { radius_m: 250, window_hours: 72, same_caller_days: 30, limit: 10 },
  { api, onSubmit, showError });
