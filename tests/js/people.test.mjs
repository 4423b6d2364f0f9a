// People by name on the ticket pages: the username only as the tooltip.
import assert from "node:assert/strict";
import { test } from "node:test";

import { actorOf, peopleOf, person } from "../../web/static/js/lib/people.js";

const TICKET = {
  assignments: [
    { department: "urban_management", grid_worker: "gw_night", grid_worker_name: "夜班网格员" },
    { department: "market_regulation", grid_worker: null, grid_worker_name: null },
  ],
  routing: { grid_worker: "gw_day", grid_worker_name: "白班网格员" },
  events: [
    { action: "intake", actor: "operator1", actor_name: "话务员一" },
    { action: "dispatch", actor: "dispatcher1", actor_name: "派单员一",
      payload: { grid_worker: "gw_night" } },
    { action: "sla_warning", actor: "system", actor_name: "系统" },
  ],
};

test("the people a ticket view names, by username", () => {
  const people = peopleOf(TICKET);
  assert.deepEqual(Object.fromEntries(people), {
    gw_night: "夜班网格员", gw_day: "白班网格员", operator1: "话务员一", dispatcher1: "派单员一",
  });
  assert.equal(peopleOf({}).size, 0);
  assert.equal(peopleOf(null).size, 0);
});

test("a payload's username reads as the name, the username in the tooltip", () => {
  const people = peopleOf(TICKET);
  assert.deepEqual(person(people, "gw_night"), { text: "夜班网格员", title: "gw_night" });
  // A name given with the username wins; an unknown username is shown as it is.
  assert.deepEqual(person(people, "gw_night", "张三"), { text: "张三", title: "gw_night" });
  assert.deepEqual(person(people, "gw_gone"), { text: "gw_gone", title: "gw_gone" });
  assert.equal(person(people, null), null);
  assert.equal(person(people, ""), null);
});

test("an event's author by name; the system as 系统", () => {
  assert.deepEqual(actorOf(TICKET.events[0]), { text: "话务员一", title: "operator1" });
  assert.deepEqual(actorOf(TICKET.events[2]), { text: "系统", title: "" });
  assert.deepEqual(actorOf({ actor: "old_user" }), { text: "old_user", title: "old_user" });
});
