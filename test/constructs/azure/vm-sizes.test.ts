import { AZURE_VM_SIZE_CATALOG, explainUnknownVmSize, parseVmSize, vmSizeAccelerator } from '../../../constructs/azure/vm-sizes';

describe('Azure VM size names', () => {
  test.each([
    ['Standard_NC24ads_A100_v4', 'NVIDIA GPU'],
    ['Standard_NC4as_T4_v3', 'NVIDIA GPU'],
    ['Standard_ND96isr_H100_v5', 'NVIDIA GPU'],
    ['Standard_ND96isr_MI300X_v5', 'AMD GPU'],
    ['Standard_NV4as_v4', 'AMD GPU'],
    ['Standard_NV36ads_A10_v5', 'NVIDIA GPU'],
    ['Standard_NG32ads_V620_v1', 'AMD GPU'],
    ['Standard_NP10s', 'Xilinx FPGA'],
    ['Standard_D4s_v5', undefined],
    ['Standard_D2_v2_Promo', undefined],
    ['Standard_DS3_v2', undefined],
    ['Standard_E8-4ds_v5', undefined],
    ['Standard_HB120-96rs_v3', undefined],
    ['Standard_DC4as_cc_v5', undefined],
    ['Standard_B2pts_v2', undefined],
    ['Standard_M128ms', undefined],
    ['standard_d4s_v5', undefined],
  ])('%s is a documented size (%s)', (name, accelerator) => {
    expect(explainUnknownVmSize(name)).toBeUndefined();
    expect(vmSizeAccelerator(name)).toBe(accelerator);
  });

  test.each([
    ['Standard_D4s_v9', /Azure documents the D family \(general purpose\) in versions v1 \(no suffix\), v2, v3, v4, v5, v6, not v9; did you mean Standard_D4s_v6 or Standard_D4s_v5\?/],
    ['Standard_E4s_v2', /Azure documents the E family \(memory optimized\) in versions v3, v4, v5, v6, not v2; did you mean Standard_E4s_v6 or Standard_E4s_v5\?/],
    ['D4s_v5', /a size name starts with its tier; did you mean Standard_D4s_v5\?/],
    ['Standard_NX4s_v5', /Azure documents no VM family "NX" .*; did you mean Standard_FX4s_v5, Standard_HX4s_v5 or Standard_NC4s_v5\?/],
    ['Standard_Q4s_v5', /Azure documents no VM family "Q" \(families: A, B, D, DS/],
    ['Standard_D4s_v5 ', /it contains white space; did you mean Standard_D4s_v5\?/],
    ['Standard_E8-8ds_v5', /constrained vCPUs \(8\) must be fewer than the size's 8 vCPUs/],
    ['Basic_D2', /the Basic tier has only A sizes .*did you mean Standard_D2\?/],
    ['g5.xlarge', /does not follow the Azure size naming convention/],
    ['Mix', /Mix is the sku name of an instance mix, not a size/],
    ['Standard_D0s_v5', /a size has at least 1 vCPU, not 0/],
    ['', /an empty name/],
  ])('%s is refused with the reason and a suggestion', (name, why) => {
    expect(explainUnknownVmSize(name)).toMatch(why);
  });

  test('parts of a name', () => {
    expect(parseVmSize('Standard_NC24ads_A100_v4')).toEqual({ tier: 'Standard', family: 'NC', vcpus: 24, constrainedVcpus: undefined, features: 'ads', acceleratorParts: ['A100'], version: 4 });
    expect(parseVmSize('Standard_E8-4ds_v5')).toMatchObject({ family: 'E', vcpus: 8, constrainedVcpus: 4, features: 'ds', version: 5 });
    expect(parseVmSize('Standard_NC6')).toMatchObject({ family: 'NC', version: 1 });
  });

  test('the catalogue the cross-cloud rules take', () => {
    expect(AZURE_VM_SIZE_CATALOG).toMatchObject({ cloudName: 'Azure', typeNoun: 'VM size' });
    expect(AZURE_VM_SIZE_CATALOG.acceleratorOf('Standard_NC4as_T4_v3')).toBe('NVIDIA GPU');
    expect(AZURE_VM_SIZE_CATALOG.explainUnknown('Standard_D4s_v9')).toMatch(/did you mean/);
  });
});
