/**
 * Normalization and alerts, as in the original Spark job: the value's position inside the
 * sensor's own valid range, with alerts in the top and bottom tenth of that range.
 */

export const HIGH_ALERT_AT = 0.9;
export const LOW_ALERT_AT = 0.1;

export interface Normalized {
  readonly normalizedValue: number;
  readonly highAlert: boolean;
  readonly lowAlert: boolean;
}

/**
 * Requires min <= value <= max and a finite max - min (the validator guarantees both); the
 * result is then in [0, 1], because floating-point subtraction and division are monotonic.
 */
export function normalize(value: number, min: number, max: number): Normalized {
  const normalizedValue = (value - min) / (max - min);
  return {
    normalizedValue,
    highAlert: normalizedValue >= HIGH_ALERT_AT,
    lowAlert: normalizedValue <= LOW_ALERT_AT,
  };
}
