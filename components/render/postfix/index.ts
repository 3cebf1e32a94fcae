/**
 * Postfix for the two roles that run it: the edge MX (port 25 in, LMTP to the stores) and the
 * outbound MTA (submission with AUTH, DKIM via rspamd, out to the Internet). Each returns main.cf,
 * master.cf and the lookup tables the two reference.
 */
export { renderEdgePostfix } from "./edge";
export { renderOutboundPostfix } from "./outbound";
