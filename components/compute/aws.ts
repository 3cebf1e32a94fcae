/**
 * Compute backend `aws`: per host a network interface with an Elastic IP (and an IPv6 address
 * when ipv6 is on), an EC2 instance on Debian 13 booted with it, and reverse DNS for the Elastic
 * IP; one security group per role, with the rules the topology's ports call for.
 *
 * The addresses belong to the network interface, not to the instance: an instance can be
 * replaced (new image, new size) and the host keeps its addresses, its PTR and its sending
 * reputation. A store's mail belongs to its data volume, not to the instance, likewise
 * (awsStorage.ts).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import ipaddr from "ipaddr.js";
import { FleetSpec, Role, ROLES } from "../config/spec";
import { hostsOf, SSH_PORT, Topology } from "../topology";
import { AddressBook, cidrFamily } from "../topology/addresses";
import type { Compute } from "./types";
import { awsNextSteps } from "./nextSteps";
import { ingressRules, ruleName, RuleSource } from "./firewall";
import { userData } from "./userData";
import { awsMailStorage } from "./awsStorage";

/** Debian's own AWS account: the official Debian cloud images. */
export const DEBIAN_AMI_OWNER = "136693071363";
/** Private addressing of the fleet's own VPC: the daemons bind to the private address, and the hosts reach each other on it. */
const VPC_CIDR = "10.77.0.0/16";
const SUBNET_CIDR = "10.77.0.0/24";

/** The first /64 of the /56 AWS gives a VPC: the same network address with a longer prefix. */
export function firstSubnet64(vpcIpv6Cidr: string): string {
  const [, bits] = ipaddr.IPv6.parseCIDR(vpcIpv6Cidr);
  if (bits !== 56) throw new Error(`expected the /56 AWS assigns to a VPC, got ${vpcIpv6Cidr}`);
  return `${ipaddr.IPv6.networkAddressFromCIDR(vpcIpv6Cidr).toRFC5952String()}/64`;
}

/** The newest official Debian 13 "trixie" image for amd64. */
function debianAmi(spec: FleetSpec, opts: pulumi.InvokeOutputOptions): pulumi.Input<string> {
  if (spec.aws?.ami) return spec.aws.ami;
  return aws.ec2.getAmiOutput(
    {
      owners: [DEBIAN_AMI_OWNER],
      mostRecent: true,
      filters: [
        { name: "name", values: ["debian-13-amd64-*"] },
        { name: "architecture", values: ["x86_64"] },
        { name: "virtualization-type", values: ["hvm"] },
      ],
    },
    opts,
  ).id;
}

interface Network {
  vpcId: pulumi.Input<string>;
  subnetId: pulumi.Input<string>;
  /** The subnet's zone, where the mail volumes live: taken from the subnet, not an instance, so a replaced instance never moves them. */
  availabilityZone: pulumi.Input<string>;
  /** What an Elastic IP needs first: AWS refuses to associate one in a VPC without an Internet gateway. */
  ready: pulumi.Resource[];
}

/** The fleet's own VPC: one public subnet, dual-stack when ipv6 is on (the default VPC has no IPv6). */
function fleetNetwork(spec: FleetSpec, parent: pulumi.Resource): Network {
  const opts = { parent };
  const tags = { Name: `mailfleet ${spec.serverDomain}` };
  const vpc = new aws.ec2.Vpc("vpc", { cidrBlock: VPC_CIDR, assignGeneratedIpv6CidrBlock: spec.ipv6, enableDnsHostnames: true, tags }, opts);
  const gateway = new aws.ec2.InternetGateway("gateway", { vpcId: vpc.id, tags }, opts);
  const subnet = new aws.ec2.Subnet(
    "subnet",
    {
      vpcId: vpc.id,
      cidrBlock: SUBNET_CIDR,
      ...(spec.ipv6 ? { ipv6CidrBlock: vpc.ipv6CidrBlock.apply(firstSubnet64), assignIpv6AddressOnCreation: true } : {}),
      tags,
    },
    opts,
  );
  const routes = new aws.ec2.RouteTable(
    "routes",
    {
      vpcId: vpc.id,
      routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }, ...(spec.ipv6 ? [{ ipv6CidrBlock: "::/0", gatewayId: gateway.id }] : [])],
      tags,
    },
    opts,
  );
  const association = new aws.ec2.RouteTableAssociation("routes-subnet", { subnetId: subnet.id, routeTableId: routes.id }, opts);
  return { vpcId: vpc.id, subnetId: subnet.id, availabilityZone: subnet.availabilityZone, ready: [gateway, association] };
}

function existingSubnet(subnetId: string, parent: pulumi.Resource): Network {
  const subnet = aws.ec2.getSubnetOutput({ id: subnetId }, { parent });
  return { vpcId: subnet.vpcId, subnetId, availabilityZone: subnet.availabilityZone, ready: [] };
}

export function awsCompute(topology: Topology, parent: pulumi.Resource): Compute {
  const { spec } = topology;
  const opts = { parent };
  const tags = (name: string) => ({ Name: name, "mailfleet:serverDomain": spec.serverDomain });
  const network = spec.aws?.subnetId ? existingSubnet(spec.aws.subnetId, parent) : fleetNetwork(spec, parent);

  const roles = ROLES.filter((role) => hostsOf(topology, role).length > 0);
  const groups = Object.fromEntries(
    roles.map((role) => [
      role,
      new aws.ec2.SecurityGroup(
        `${role}-group`,
        { vpcId: network.vpcId, description: `mailfleet ${role} hosts of ${spec.serverDomain}`, tags: tags(`${role}.${spec.serverDomain}`) },
        opts,
      ),
    ]),
  ) as Record<Role, aws.ec2.SecurityGroup>;

  const ami = debianAmi(spec, opts);
  const storage = awsMailStorage(spec.aws!, hostsOf(topology, "store"), network.availabilityZone, tags, parent);
  const hosts = topology.hosts.map((host) => {
    const store = storage.stores[host.name];
    const nic = new aws.ec2.NetworkInterface(
      `${host.name}-nic`,
      { subnetId: network.subnetId, securityGroups: [groups[host.role].id], ...(spec.ipv6 ? { ipv6AddressCount: 1 } : {}), tags: tags(host.fqdn) },
      opts,
    );
    const eip = new aws.ec2.Eip(`${host.name}-ip`, { domain: "vpc", networkInterface: nic.id, tags: tags(host.fqdn) }, { parent, dependsOn: network.ready });
    const instance = new aws.ec2.Instance(
      host.name,
      {
        ami,
        instanceType: host.instanceType,
        primaryNetworkInterface: { networkInterfaceId: nic.id },
        // A store's first boot mounts its mail volume, which it finds by the volume's id.
        userData: store ? store.volume.id.apply((id) => userData(spec, host, id)) : userData(spec, host),
        ...(store ? { iamInstanceProfile: store.profile.name } : {}),
        rootBlockDevice: { volumeSize: spec.aws?.rootVolumeGb ?? 20, volumeType: "gp3", encrypted: true },
        // IMDSv2 only: a request forged through a web-facing daemon cannot read the instance's credentials.
        metadataOptions: { httpTokens: "required", httpEndpoint: "enabled" },
        tags: tags(host.fqdn),
      },
      {
        parent,
        // Booted with its Elastic IP already in place, so first-boot traffic leaves from the published address.
        dependsOn: [eip],
        // A newer Debian image or an edited first-boot script must not replace or restart a running
        // mail host (user data runs only at first boot anyway); the push keeps the config current.
        ignoreChanges: ["ami", "userData"],
      },
    );
    return { host, nic, eip, instance, attachment: store ? [storage.attach(host.name, instance)] : [] };
  });

  const sourceArgs = (source: RuleSource) => {
    switch (source.kind) {
      case "cidr":
        return cidrFamily(source.cidr) === "ipv4" ? { cidrIpv4: source.cidr } : { cidrIpv6: source.cidr };
      case "group":
        return { referencedSecurityGroupId: groups[source.role].id };
    }
  };
  const rules = ingressRules(topology).map(
    (rule) =>
      [
        rule,
        new aws.vpc.SecurityGroupIngressRule(
          ruleName(rule),
          {
            securityGroupId: groups[rule.role].id,
            ipProtocol: "tcp",
            fromPort: rule.port,
            toPort: rule.port,
            description: rule.service,
            ...sourceArgs(rule.source),
          },
          opts,
        ),
      ] as const,
  );
  // The push logs in over SSH: it waits for the instance and for the rules that let it in.
  const sshRules = (role: Role) => rules.filter(([rule]) => rule.role === role && rule.port === SSH_PORT).map(([, resource]) => resource);
  for (const role of roles) {
    // Outbound is open: mail goes to any MX on the Internet, and packages come from Debian's mirrors.
    new aws.vpc.SecurityGroupEgressRule(`${role}-egress-ipv4`, { securityGroupId: groups[role].id, ipProtocol: "-1", cidrIpv4: "0.0.0.0/0" }, opts);
    if (spec.ipv6) new aws.vpc.SecurityGroupEgressRule(`${role}-egress-ipv6`, { securityGroupId: groups[role].id, ipProtocol: "-1", cidrIpv6: "::/0" }, opts);
  }

  const addresses = pulumi
    .all(
      hosts.map((h) =>
        pulumi
          .all([h.eip.publicIp, h.nic.privateIp, h.nic.ipv6Addresses])
          // The Elastic IP is NATed to the interface's private address, which the daemons bind to.
          .apply(([ipv4, privateIpv4, ipv6]) => [h.host.name, { ipv4, privateIpv4, ...(spec.ipv6 && ipv6[0] ? { ipv6: ipv6[0] } : {}) }] as const),
      ),
    )
    .apply((entries): AddressBook => Object.fromEntries(entries));

  return {
    addresses,
    sshHosts: Object.fromEntries(hosts.map((h) => [h.host.name, h.eip.publicIp])),
    machines: Object.fromEntries(hosts.map((h) => [h.host.name, [h.instance, ...h.attachment, ...sshRules(h.host.role)]])),
    backup: { bucket: storage.backupBucket, repositoryBase: storage.backupRepositoryBase },
    publishReverseDns(addressRecords) {
      for (const { host, eip } of hosts) {
        // AWS sets the PTR only after checking that the name already resolves to the Elastic IP,
        // so this waits for the host's A record.
        new aws.ec2.EipDomainName(
          `${host.name}-ptr`,
          { allocationId: eip.allocationId, domainName: host.fqdn },
          { parent, dependsOn: addressRecords.get(host.name) ?? [] },
        );
      }
    },
    nextSteps: awsNextSteps,
  };
}

