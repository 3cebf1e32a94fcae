/** Zones both halves of the zone file tests write (zoneFile.test.ts, zoneFile.daemon.test.ts). */
import { ZoneFile, zoneFiles } from "../../components/records";
import { lab } from "../support/labRecords";

/** The lab's zones with mail.example.com a zone of its own below example.com, one nameserver inside it. */
export function delegatedZones(): ZoneFile[] {
  const split = lab((raw) => {
    raw.dnsZones = ["example.com", "example.org", "mail.example.com"];
    raw.dnsTtl = 300;
    raw.zone = {
      hostmaster: "dns.admin@example.com",
      nameservers: [
        { name: "ns1.mail.example.com", ipv4: "192.0.2.53", ipv6: "2001:db8:0:1::53" },
        { name: "ns2.example.net", ipv4: "198.51.100.53" },
      ],
    };
  });
  return zoneFiles(split.set, split.spec);
}
