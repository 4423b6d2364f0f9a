/* Which of the actions the server lists (`ticket.actions`: what the state table allows this
 * user) are worth a button now, from the user's own assignment (pure: node tests import it).
 * The server still decides; this only keeps a page from offering what it would refuse. */

/** Why an action the state table allows cannot be taken now by the holder of `mine`; null when
 * it can. `now`: milliseconds. */
export function notNow(action, ticket, mine, now) {
  if (action !== "request_extension") return null;
  if (!mine || !["dispatched", "signed"].includes(mine.status)) return "本部门的派单已不在办理中";
  if (mine.complete_deadline && Date.parse(mine.complete_deadline) <= now) {
    return "办结时限已过，不能再申请延期";
  }
  if ((ticket.extensions || []).some((x) => x.assignment_id === mine.id
      && x.status === "pending")) {
    return "已有一个待审批的延期申请";
  }
  return null;
}

/** The actions of `wanted` (in its order) that the server lists and that can be taken now. */
export function offeredNow(wanted, ticket, mine, now) {
  const listed = ticket.actions || [];
  return wanted.filter((a) => listed.includes(a) && notNow(a, ticket, mine, now) === null);
}
