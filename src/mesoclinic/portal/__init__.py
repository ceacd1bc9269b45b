"""The patient portal: intake, consent, appointments and self-booking, check-ins, results, explainer."""
