/* The page /disputes: the 定责 queue (disputes.js) on a page of its own. */
import { mount } from "./disputes.js";
import { BOOT } from "./lib/page.js";

mount(document.getElementById("disputes"), { office: Boolean(BOOT.office) });
