import { Sesv2ConfigurationSet, Sesv2ConfigurationSetEventDestination } from '../aws.js'
import { Construct } from '../cdktf.js'

/** The configuration set the e-mail Lambda sends with (`SES_CONFIGURATION_SET`). */
export function configurationSetName(name: string): string {
  return `${name}-confirmations`
}

/** SES events counted as CloudWatch metrics (namespace AWS/SES) per configuration set. */
export const SES_EVENT_TYPES = [
  'SEND',
  'DELIVERY',
  'BOUNCE',
  'COMPLAINT',
  'REJECT',
  'DELIVERY_DELAY',
]

export interface SesConfigurationProps {
  readonly name: string
}

/**
 * How confirmation e-mails are sent: reputation metrics on (the bounce and complaint rates the
 * alarms watch), addresses that bounced or complained suppressed so that SES stops sending to
 * them (`aws sesv2 list-suppressed-destinations` lists them), and every send, delivery, bounce,
 * complaint, rejection and delay counted in CloudWatch.
 *
 * It lives in the ops stack and the Lambda names it by its name: applied before the notify stack,
 * it exists when the function first sends.
 */
export class SesConfiguration extends Construct {
  readonly configurationSet: Sesv2ConfigurationSet

  constructor(scope: Construct, id: string, props: SesConfigurationProps) {
    super(scope, id)
    const setName = configurationSetName(props.name)
    this.configurationSet = new Sesv2ConfigurationSet(this, 'set', {
      configurationSetName: setName,
      reputationOptions: { reputationMetricsEnabled: true },
      sendingOptions: { sendingEnabled: true },
      suppressionOptions: { suppressedReasons: ['BOUNCE', 'COMPLAINT'] },
    })
    new Sesv2ConfigurationSetEventDestination(this, 'metrics', {
      configurationSetName: this.configurationSet.configurationSetName,
      eventDestinationName: 'cloudwatch',
      eventDestination: {
        enabled: true,
        matchingEventTypes: SES_EVENT_TYPES,
        cloudWatchDestination: {
          dimensionConfiguration: [
            {
              // SES tags every message with its configuration set's name.
              dimensionName: 'ses:configuration-set',
              dimensionValueSource: 'MESSAGE_TAG',
              defaultDimensionValue: setName,
            },
          ],
        },
      },
    })
  }
}
