/* /admin/assessment-scheme: the monthly assessment's weights, penalties and ranking volume,
 * read and replaced through /api/v1/admin/assessment-scheme (checked and recorded by the
 * server; a refusal is shown at the field it names and nothing is saved). */
import { api } from "./lib/api.js";
import { onSubmit, showError } from "./lib/admin.js";
import { numberSettings } from "./lib/number-settings.js";

numberSettings(document.getElementById("admin-assessment-scheme"),
  "/api/v1/admin/assessment-scheme", {
    on_time_sign: 10, on_time_completion: 30, satisfaction: 30, resolution: 20,
    unfounded_return_points: 1, unfounded_return_cap: 5, reopen_points: 1, reopen_cap: 5,
    min_assignments: 5,
  }, { api, onSubmit, showError });
