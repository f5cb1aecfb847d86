from . import mpesa_stk_push_wizard
from . import mpesa_review_wizard
