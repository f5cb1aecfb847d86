from . import mpesa_stk_push_wizard
