/**
 * Public AWS list prices, us-east-1, on-demand, no free tier, as published on the AWS pricing
 * pages (checked 2026-11; DynamoDB on-demand after the November 2024 reduction). Change them here
 * only: the cost model (bench/lib/cost.ts) reads nothing else.
 */
export const PRICES = {
  region: 'us-east-1',
  checked: '2026-11',
  lambda: {
    /** Arm64 (Concord's functions are ARM_64), per GB-second. */
    perGbSecondArm: 0.0000133334,
    perMillionRequests: 0.2,
  },
  apiGatewayWebSocket: {
    /** Messages in and out, billed in 32 KB increments (first 1 billion per month). */
    perMillionMessages: 1.0,
    messageBillingBytes: 32 * 1024,
    perMillionConnectionMinutes: 0.25,
  },
  apiGatewayHttp: {
    /** HTTP API requests (first 300 million per month), billed per 512 KB increment. */
    perMillionRequests: 1.0,
  },
  dynamodbOnDemand: {
    /** One write request unit = one write of up to 1 KB. */
    perMillionWriteUnits: 0.625,
    /** One read request unit = one strongly consistent read of up to 4 KB (eventually consistent: half). */
    perMillionReadUnits: 0.125,
    /** Reads of the stream by a Lambda trigger are free. */
    streamReadsByLambda: 0,
    perGbMonthStorage: 0.25,
  },
  cloudfront: {
    /** Data transfer out to the internet, first 10 TB per month, North America/Europe. */
    perGbOut: 0.085,
    perTenThousandHttpsRequests: 0.01,
  },
} as const;
