/* People by name on the ticket pages (pure: node tests import it). A ticket view names the
 * people it mentions next to their usernames (assignments' grid_worker_name, the routing's
 * grid_worker_name, events' actor_name, a payload's grid_worker_name and arbitrated_by_name);
 * a username given without its name (an older view) is named from the others. The username is
 * only for the tooltip, never the text a person reads. */

/** Username → name, from what the ticket view names (the first name given wins). */
export function peopleOf(ticket) {
  const out = new Map();
  const add = (username, name) => {
    if (username && name && !out.has(username)) out.set(username, name);
  };
  for (const a of (ticket && ticket.assignments) || []) add(a.grid_worker, a.grid_worker_name);
  const routing = (ticket && ticket.routing) || {};
  add(routing.grid_worker, routing.grid_worker_name);
  for (const e of (ticket && ticket.events) || []) {
    if (e.actor !== "system") add(e.actor, e.actor_name);
  }
  return out;
}

/** A person as shown: {text: the name (the username when none is known), title: the
 * username}; null for nobody. `people`: a Map from peopleOf. */
export function person(people, username, name) {
  if (!username) return null;
  return { text: name || (people && people.get(username)) || username, title: username };
}

/** An event's author as shown: the name (系统 for the system) with the username as title. */
export function actorOf(e) {
  if (!e || !e.actor || e.actor === "system") return { text: "系统", title: "" };
  return { text: e.actor_name || e.actor, title: e.actor };
}
