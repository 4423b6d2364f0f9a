/* The Socket.IO client wrapper: a namespace that keeps reconnecting, and a signed-out user sent
 * to the login page (through api.js). */
import { api } from "./api.js";
import { io } from "./vendor.js";

/**
 * Open a namespace ("/console"). onUp() on every connect, onDown(reason) on every loss; the
 * client library retries by itself, and this wrapper retries where it would not (the server's
 * own disconnect, a refused connection). Returns the socket (listen with socket.on), or null
 * when the client library is not on the page (`client`: the library, when the page loaded it
 * after its modules).
 */
export function openSocket(namespace, { onUp, onDown }, client = io) {
  if (typeof client !== "function") return null;
  const socket = client(namespace, { transports: ["websocket", "polling"] });
  socket.on("connect", () => onUp());
  socket.on("disconnect", (reason) => {
    onDown(reason);
    if (reason === "io server disconnect") setTimeout(() => socket.connect(), 3000);
  });
  socket.on("connect_error", () => {
    onDown("connect_error");
    if (socket.active) return; // the client retries by itself
    // Refused by the server (signed out?): api() sends a signed-out user to the login page;
    // otherwise try again a little later.
    api("GET", "/api/v1/auth/me")
      .then(() => setTimeout(() => socket.connect(), 5000))
      .catch(() => {});
  });
  return socket;
}
