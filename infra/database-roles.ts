/**
 * Group roles created by the migrations (db/migrations), one per duty. Each function's login user
 * joins exactly one, so a function can do what its duty needs and nothing else.
 */
export const GROUP_ROLES = ['iot_ingest', 'iot_aggregation', 'iot_readonly', 'iot_dq', 'iot_api'] as const;
export type GroupRole = (typeof GROUP_ROLES)[number];
