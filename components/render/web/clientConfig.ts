/**
 * Mail client self-configuration documents: Thunderbird's autoconfig (config-v1.1.xml) and
 * Outlook's POX autodiscover response. Both name the fleet's service names, never a single host,
 * so they stay right as hosts are added.
 */
import { Topology } from "../../topology";

const IMAPS = 993;
const POP3S = 995;
const SUBMISSIONS = 465;
const SUBMISSION = 587;

function xml(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Thunderbird autoconfig for one hosted domain (the document names the domain it configures). */
export function thunderbirdAutoconfig(topology: Topology, domain: string): string {
  const { smtp, imap } = topology.services;
  const server = (tag: "incomingServer" | "outgoingServer", type: string, host: string, port: number, socketType: "SSL" | "STARTTLS") => [
    `    <${tag} type="${type}">`,
    `      <hostname>${xml(host)}</hostname>`,
    `      <port>${port}</port>`,
    `      <socketType>${socketType}</socketType>`,
    // Users log in with their full address (Dovecot's user names are addresses).
    "      <authentication>password-cleartext</authentication>",
    "      <username>%EMAILADDRESS%</username>",
    `    </${tag}>`,
  ];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${xml(domain)}">`,
    `    <domain>${xml(domain)}</domain>`,
    `    <displayName>${xml(domain)}</displayName>`,
    `    <displayShortName>${xml(domain)}</displayShortName>`,
    ...server("incomingServer", "imap", imap.fqdn, IMAPS, "SSL"),
    ...(topology.spec.pop3 ? server("incomingServer", "pop3", imap.fqdn, POP3S, "SSL") : []),
    // Implicit TLS first (RFC 8314 prefers it); 587 with STARTTLS for networks that block 465.
    ...server("outgoingServer", "smtp", smtp.fqdn, SUBMISSIONS, "SSL"),
    ...server("outgoingServer", "smtp", smtp.fqdn, SUBMISSION, "STARTTLS"),
    "  </emailProvider>",
    "</clientConfig>",
    "",
  ].join("\n");
}

/**
 * Outlook's POX autodiscover answer. It names no domain, so every hosted domain shares it. The
 * login name is left out: a static file cannot echo the address from the request, and Outlook
 * then logs in with the address the user typed, which is the Dovecot user name.
 */
export function outlookAutodiscover(topology: Topology): string {
  const { smtp, imap } = topology.services;
  const protocol = (type: string, host: string, port: number, encryption: "SSL" | "TLS") => [
    "      <Protocol>",
    `        <Type>${type}</Type>`,
    `        <Server>${xml(host)}</Server>`,
    `        <Port>${port}</Port>`,
    "        <DomainRequired>off</DomainRequired>",
    "        <SPA>off</SPA>",
    // Encryption overrides SSL: SSL = implicit TLS, TLS = STARTTLS.
    `        <Encryption>${encryption}</Encryption>`,
    "        <AuthRequired>on</AuthRequired>",
    "      </Protocol>",
  ];
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    '  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">',
    "    <Account>",
    "      <AccountType>email</AccountType>",
    "      <Action>settings</Action>",
    ...protocol("IMAP", imap.fqdn, IMAPS, "SSL"),
    ...protocol("SMTP", smtp.fqdn, SUBMISSIONS, "SSL"),
    ...protocol("SMTP", smtp.fqdn, SUBMISSION, "TLS"),
    "    </Account>",
    "  </Response>",
    "</Autodiscover>",
    "",
  ].join("\n");
}
