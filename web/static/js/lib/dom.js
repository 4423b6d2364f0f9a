/* Safe DOM building. The pages' safety rule: user-provided text only ever reaches the DOM as
 * text (el's children, textContent); no page sets innerHTML from data. Touches `document` only
 * when called. */

/** Build an element: attributes (class, dataset, on* handlers, properties) and children;
 * strings become text nodes, never markup. */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  append(node, children);
  return node;
}

/** Append children (same rules as el): nested arrays flattened, null/false skipped. */
export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace a node's children (same rules as el). */
export function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}
