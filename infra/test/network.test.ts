import t from 'tap'
import { Testing } from '../src/cdktf.js'
import { profiles } from '../src/config/index.js'
import { INTERFACE_ENDPOINT_SERVICES, subnetCidr } from '../src/constructs/network.js'
import {
  type Body,
  resourceList,
  resources,
  synthPlatform,
  type SynthesizedStack,
} from './helpers/synth.js'

const small = synthPlatform(profiles.small).network
const ha = synthPlatform(profiles.ha).network

const subnetsOfTier = (stack: SynthesizedStack, tier: string) =>
  resourceList(stack, 'aws_subnet').filter((s) => s.tags['sugang:tier'] === tier)
const azCount = (subnets: Body[]) => new Set(subnets.map((s) => s.availability_zone)).size

t.test('ha runs the app tier in two AZs with a NAT gateway in each', async (t) => {
  t.equal(azCount(subnetsOfTier(ha, 'app')), 2)
  t.equal(resourceList(ha, 'aws_nat_gateway').length, 2)
  const natRoutes = resourceList(ha, 'aws_route').filter((r) => r.nat_gateway_id)
  t.equal(new Set(natRoutes.map((r) => r.nat_gateway_id)).size, 2, 'each app AZ has its own NAT')
})

t.test('small runs the app tier in one AZ behind a single NAT gateway', async (t) => {
  t.equal(azCount(subnetsOfTier(small, 'app')), 1)
  t.equal(resourceList(small, 'aws_nat_gateway').length, 1)
})

t.test(
  'public and data subnets span two AZs in both profiles, as ALB and RDS require',
  async (t) => {
    for (const stack of [small, ha]) {
      t.equal(azCount(subnetsOfTier(stack, 'public')), 2)
      t.equal(azCount(subnetsOfTier(stack, 'data')), 2)
    }
  },
)

t.test('no subnet hands out public IP addresses', async (t) => {
  for (const stack of [small, ha]) {
    const subnets = resourceList(stack, 'aws_subnet')
    t.ok(subnets.length >= 5)
    t.ok(subnets.every((s) => s.map_public_ip_on_launch === false))
  }
})

t.test('the data tier has no route out of the VPC', async (t) => {
  for (const stack of [small, ha]) {
    const tables = resources(stack, 'aws_route_table')
    const dataTable = Object.entries(tables).find(([, rt]) => rt.tags.Name.endsWith('-data'))
    t.ok(dataTable, 'a route table for the data tier exists')
    const routesOut = resourceList(stack, 'aws_route').filter((r) =>
      String(r.route_table_id).includes(`.${dataTable![0]}.`),
    )
    t.same(routesOut, [])
  }
})

t.test('the VPC resolves private DNS names, which the interface endpoints need', async (t) => {
  for (const stack of [small, ha]) {
    const [vpc] = resourceList(stack, 'aws_vpc')
    t.match(vpc, { enable_dns_support: true, enable_dns_hostnames: true })
  }
})

t.test('instances reach SSM, ECR and CloudWatch Logs through private VPC endpoints', async (t) => {
  for (const stack of [small, ha]) {
    for (const service of INTERFACE_ENDPOINT_SERVICES) {
      t.ok(
        Testing.toHaveResourceWithProperties(stack.json, 'aws_vpc_endpoint', {
          service_name: `com.amazonaws.ap-northeast-2.${service}`,
          vpc_endpoint_type: 'Interface',
          private_dns_enabled: true,
        }),
        service,
      )
    }
    t.ok(
      Testing.toHaveResourceWithProperties(stack.json, 'aws_vpc_endpoint', {
        service_name: 'com.amazonaws.ap-northeast-2.s3',
        vpc_endpoint_type: 'Gateway',
      }),
      's3 gateway',
    )
  }
  t.same(INTERFACE_ENDPOINT_SERVICES, [
    'ssm',
    'ssmmessages',
    'ec2messages',
    'ecr.api',
    'ecr.dkr',
    'logs',
  ])
})

t.test('VPC flow logs record all traffic to CloudWatch Logs', async (t) => {
  for (const stack of [small, ha]) {
    t.ok(
      Testing.toHaveResourceWithProperties(stack.json, 'aws_flow_log', {
        traffic_type: 'ALL',
        log_destination_type: 'cloud-watch-logs',
      }),
    )
    t.ok(Testing.toHaveResource(stack.json, 'aws_cloudwatch_log_group'))
  }
})

t.test('the default security group allows nothing', async (t) => {
  for (const stack of [small, ha]) {
    t.ok(
      Testing.toHaveResourceWithProperties(stack.json, 'aws_default_security_group', {
        ingress: [],
        egress: [],
      }),
    )
  }
})

t.test('subnet CIDRs are carved from the VPC range and refuse to overflow it', async (t) => {
  t.equal(subnetCidr('10.20.0.0/16', 0), '10.20.0.0/20')
  t.equal(subnetCidr('10.20.0.0/16', 9), '10.20.144.0/20')
  t.throws(() => subnetCidr('10.20.0.0/16', 16), /sixteen/)
  t.throws(() => subnetCidr('10.20.0.0/24', 0), /\/16/)
})
