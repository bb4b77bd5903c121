/**
 * The histogram gradient-boosted tree trainer and its reference predictor. See `train.ts` for the
 * boosting loop and how categoricals and missing values are handled.
 */
export type { BinnedMatrix } from './binning.ts';
export type { GbdtTrainingInput } from './inputs.ts';
export { predictProba, predictRaw, predictValue } from './predict.ts';
export { type GbdtRound, type GbdtTrainingResult, trainGbdt } from './train.ts';
