import {
  CloudwatchLogGroup,
  DefaultSecurityGroup,
  Eip,
  FlowLog,
  IamRole,
  IamRolePolicy,
  InternetGateway,
  NatGateway,
  Route,
  RouteTable,
  RouteTableAssociation,
  SecurityGroup,
  Subnet,
  Vpc,
  VpcEndpoint,
  VpcSecurityGroupEgressRule,
  VpcSecurityGroupIngressRule,
} from '../aws.js'
import { Construct } from '../cdktf.js'
import type { NetworkConfig } from '../config/types.js'
import { policyDocument, serviceTrustPolicy } from './iam.js'

export interface NetworkProps {
  /** Name prefix, e.g. `sugang-small`. */
  readonly name: string
  readonly region: string
  readonly config: NetworkConfig
}

/** Interface endpoints that let instances with no internet route be managed and pull images. */
export const INTERFACE_ENDPOINT_SERVICES = [
  'ssm',
  'ssmmessages',
  'ec2messages',
  'ecr.api',
  'ecr.dkr',
  'logs',
] as const

/** The tiers' security groups. Rules that open a port live with the construct that owns the port. */
export interface TierSecurityGroups {
  readonly alb: SecurityGroup
  readonly app: SecurityGroup
  readonly monitoring: SecurityGroup
  readonly notify: SecurityGroup
  readonly endpoints: SecurityGroup
}

/**
 * Carve the n-th /20 out of a /16 VPC CIDR. Static CIDRs (rather than `cidrsubnet()` at plan time)
 * keep the plan readable and let the tests see the layout.
 */
export function subnetCidr(vpcCidr: string, index: number): string {
  const match = /^(\d+)\.(\d+)\.0\.0\/16$/.exec(vpcCidr)
  if (!match) throw new Error(`vpcCidr must be a /16 like 10.20.0.0/16, got ${vpcCidr}`)
  if (index < 0 || index > 15) throw new Error(`a /16 holds sixteen /20 subnets, not ${index + 1}`)
  return `${match[1]}.${match[2]}.${index * 16}.0/20`
}

/**
 * VPC with three subnet tiers: public (ALB, NAT), private-app (instances, Lambda, endpoints) and
 * private-data (RDS, ElastiCache; no route out at all).
 */
export class Network extends Construct {
  readonly vpc: Vpc
  readonly publicSubnets: Subnet[] = []
  readonly appSubnets: Subnet[] = []
  readonly dataSubnets: Subnet[] = []
  readonly natGateways: NatGateway[] = []
  readonly securityGroups: TierSecurityGroups

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id)
    const { name, config, region } = props
    const appAzs = config.availabilityZones.slice(0, config.appAvailabilityZoneCount)

    this.vpc = new Vpc(this, 'vpc', {
      cidrBlock: config.vpcCidr,
      // Interface endpoints with private DNS need both.
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: { Name: name },
    })

    // The default security group is attached to anything created without one; make it deny all.
    new DefaultSecurityGroup(this, 'default-sg', {
      vpcId: this.vpc.id,
      ingress: [],
      egress: [],
      tags: { Name: `${name}-default-deny` },
    })

    const igw = new InternetGateway(this, 'igw', { vpcId: this.vpc.id, tags: { Name: name } })
    const publicRoutes = new RouteTable(this, 'public-rt', {
      vpcId: this.vpc.id,
      tags: { Name: `${name}-public` },
    })
    new Route(this, 'public-default', {
      routeTableId: publicRoutes.id,
      destinationCidrBlock: '0.0.0.0/0',
      gatewayId: igw.id,
    })

    // Public and data subnets always span both AZs: the ALB and the RDS subnet group require it.
    config.availabilityZones.forEach((az, i) => {
      const subnet = new Subnet(this, `public-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: az,
        cidrBlock: subnetCidr(config.vpcCidr, i),
        // Nothing in the public tier needs an address of its own: the ALB and NAT get theirs.
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-public-${az}`, 'sugang:tier': 'public' },
      })
      new RouteTableAssociation(this, `public-${i}-rta`, {
        subnetId: subnet.id,
        routeTableId: publicRoutes.id,
      })
      this.publicSubnets.push(subnet)
    })

    const natCount = config.natGatewayPerAz ? appAzs.length : 1
    for (let i = 0; i < natCount; i++) {
      const eip = new Eip(this, `nat-eip-${i}`, {
        domain: 'vpc',
        tags: { Name: `${name}-nat-${i}` },
      })
      this.natGateways.push(
        new NatGateway(this, `nat-${i}`, {
          allocationId: eip.id,
          subnetId: this.publicSubnets[i]!.id,
          tags: { Name: `${name}-nat-${appAzs[i]}` },
          dependsOn: [igw],
        }),
      )
    }

    const appRouteTables: RouteTable[] = []
    appAzs.forEach((az, i) => {
      const subnet = new Subnet(this, `app-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: az,
        cidrBlock: subnetCidr(config.vpcCidr, 4 + i),
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-app-${az}`, 'sugang:tier': 'app' },
      })
      const routes = new RouteTable(this, `app-${i}-rt`, {
        vpcId: this.vpc.id,
        tags: { Name: `${name}-app-${az}` },
      })
      // With a NAT per AZ, an AZ outage leaves the other AZ's egress intact.
      const nat = this.natGateways[config.natGatewayPerAz ? i : 0]!
      new Route(this, `app-${i}-default`, {
        routeTableId: routes.id,
        destinationCidrBlock: '0.0.0.0/0',
        natGatewayId: nat.id,
      })
      new RouteTableAssociation(this, `app-${i}-rta`, {
        subnetId: subnet.id,
        routeTableId: routes.id,
      })
      this.appSubnets.push(subnet)
      appRouteTables.push(routes)
    })

    const dataRoutes = new RouteTable(this, 'data-rt', {
      vpcId: this.vpc.id,
      tags: { Name: `${name}-data` },
    })
    config.availabilityZones.forEach((az, i) => {
      const subnet = new Subnet(this, `data-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: az,
        cidrBlock: subnetCidr(config.vpcCidr, 8 + i),
        mapPublicIpOnLaunch: false,
        tags: { Name: `${name}-data-${az}`, 'sugang:tier': 'data' },
      })
      new RouteTableAssociation(this, `data-${i}-rta`, {
        subnetId: subnet.id,
        routeTableId: dataRoutes.id,
      })
      this.dataSubnets.push(subnet)
    })

    const group = (key: string, description: string): SecurityGroup =>
      new SecurityGroup(this, `${key}-sg`, {
        name: `${name}-${key}`,
        description,
        vpcId: this.vpc.id,
        tags: { Name: `${name}-${key}` },
      })
    this.securityGroups = {
      alb: group('alb', 'Internet-facing load balancer'),
      app: group('app', 'sugang service instances'),
      monitoring: group('monitoring', 'Prometheus, Alertmanager and Grafana host'),
      notify: group('notify', 'Confirmation e-mail Lambda'),
      endpoints: group('endpoints', 'VPC interface endpoints'),
    }
    // Instances reach the NAT (ECR layers, package mirrors, SES, Secrets Manager), MySQL and Redis;
    // data-tier groups accept only what they name, so broad egress here opens nothing inbound.
    for (const key of ['app', 'monitoring', 'notify'] as const) {
      new VpcSecurityGroupEgressRule(this, `${key}-egress`, {
        securityGroupId: this.securityGroups[key].id,
        description: 'Outbound to the VPC and through the NAT gateway',
        ipProtocol: '-1',
        cidrIpv4: '0.0.0.0/0',
      })
    }
    new VpcSecurityGroupIngressRule(this, 'endpoints-https', {
      securityGroupId: this.securityGroups.endpoints.id,
      description: 'HTTPS to the AWS APIs from inside the VPC',
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
      cidrIpv4: config.vpcCidr,
    })

    for (const service of INTERFACE_ENDPOINT_SERVICES) {
      new VpcEndpoint(this, `endpoint-${service.replace('.', '-')}`, {
        vpcId: this.vpc.id,
        serviceName: `com.amazonaws.${region}.${service}`,
        vpcEndpointType: 'Interface',
        privateDnsEnabled: true,
        subnetIds: this.appSubnets.map((s) => s.id),
        securityGroupIds: [this.securityGroups.endpoints.id],
        tags: { Name: `${name}-${service}` },
      })
    }
    // Gateway endpoint: free, and ECR image layers are served from S3.
    new VpcEndpoint(this, 'endpoint-s3', {
      vpcId: this.vpc.id,
      serviceName: `com.amazonaws.${region}.s3`,
      vpcEndpointType: 'Gateway',
      routeTableIds: appRouteTables.map((t) => t.id),
      tags: { Name: `${name}-s3` },
    })

    const flowLogs = new CloudwatchLogGroup(this, 'flow-log-group', {
      name: `/${name}/vpc-flow-logs`,
      retentionInDays: config.flowLogRetentionDays,
    })
    const flowLogRole = new IamRole(this, 'flow-log-role', {
      name: `${name}-vpc-flow-logs`,
      assumeRolePolicy: serviceTrustPolicy(this, 'flow-log-trust', 'vpc-flow-logs.amazonaws.com'),
    })
    new IamRolePolicy(this, 'flow-log-policy', {
      role: flowLogRole.id,
      policy: policyDocument(this, 'flow-log-permissions', [
        {
          effect: 'Allow',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [`${flowLogs.arn}:*`],
        },
      ]).json,
    })
    new FlowLog(this, 'flow-log', {
      vpcId: this.vpc.id,
      trafficType: 'ALL',
      logDestinationType: 'cloud-watch-logs',
      logDestination: flowLogs.arn,
      iamRoleArn: flowLogRole.arn,
      maxAggregationInterval: 60,
      tags: { Name: name },
    })
  }
}
